/* mvm_kernels.cu -- (filled in by the GPU mvm work) */
