/* update_kernels.cu -- (filled in by the GPU update work) */
