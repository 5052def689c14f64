# Cython declarations of the per-element kernel headers in rpu/_kernels/ (layer (a) of the core).
from libc.stdint cimport uint32_t, uint64_t, int64_t

cdef extern from "philox.h" nogil:
    void rpu_philox4x32_10(const uint32_t *ctr, const uint32_t *key, uint32_t *out)
    # Templates over T in C++; declared as float/double overloads so that Cython resolves them
    # from the pointer argument (it cannot deduce a template parameter from a pointer).
    void rpu_uniform4(uint64_t seed, uint64_t block, uint64_t row, uint64_t op, int purpose,
                      uint32_t sub, float *out)
    void rpu_uniform4(uint64_t seed, uint64_t block, uint64_t row, uint64_t op, int purpose,
                      uint32_t sub, double *out)
    void rpu_normal4(uint64_t seed, uint64_t block, uint64_t row, uint64_t op, int purpose,
                     uint32_t sub, float *out)
    void rpu_normal4(uint64_t seed, uint64_t block, uint64_t row, uint64_t op, int purpose,
                     uint32_t sub, double *out)

cdef extern from "rpu_common.h" nogil:
    float rpu_pow(float x, float y)
    double rpu_pow(double x, double y)

cdef extern from "rng_ids.h" nogil:
    cdef enum rpu_rng_purpose:
        RPU_RNG_WEIGHT_INIT
        RPU_RNG_FB_CONSTRUCTION
        RPU_RNG_INP_NOISE
        RPU_RNG_INP_STO_ROUND
        RPU_RNG_OUT_NOISE
        RPU_RNG_OUT_STO_ROUND
        RPU_RNG_W_NOISE
        RPU_RNG_W_NOISE_NEG_PASS
        RPU_RNG_X_TRAIN
        RPU_RNG_D_TRAIN
        RPU_RNG_X_PROB_ROUND
        RPU_RNG_D_PROB_ROUND
        RPU_RNG_PULSE_NOISE
        RPU_RNG_WRITE_NOISE
        RPU_RNG_INF_PROG_NOISE
        RPU_RNG_INF_DRIFT_NU
        RPU_RNG_INF_READ_NOISE

cdef extern from "mvm_io.h" nogil:
    T rpu_dac_prepare[T](T x, T scale, T step, T bound, T round_shift, T noise, T asymmetry)
    T rpu_ir_drop_factor[T](T abs_current, T n_in, T g_ratio)
    T rpu_ir_drop_input[T](T u, int64_t j, int64_t n)
    T rpu_v_offset[T](T v, T o, T rs, T r_max, int use_ref, T y_ref)
    T rpu_adc_finalize[T](T v, int nonlinear, T n_line, T nlf, T asymmetry, T noise, T step,
                          T round_shift, T bound, int *overflow)

cdef extern from "cpu_rows.h" nogil:
    long rpu_normals_by_column_isa[T](int isa, T *xi, const signed char *fire, long j0, long j1,
                                      const T *normals)
    int rpu_philox_blocks_isa(int isa, uint32_t *scratch, long n_blocks, uint64_t seed,
                              uint64_t c0_first, uint64_t c1_first, int lanes_on_c1, uint64_t op,
                              int purpose, uint32_t sub)
    void rpu_normal_row(float *out, long n, uint32_t *scratch, uint64_t seed, uint64_t row,
                        uint64_t op, int purpose, uint32_t sub)
    void rpu_normal_row(double *out, long n, uint32_t *scratch, uint64_t seed, uint64_t row,
                        uint64_t op, int purpose, uint32_t sub)
    void rpu_uniform_row(float *out, long n, uint32_t *scratch, uint64_t seed, uint64_t row,
                         uint64_t op, int purpose, uint32_t sub)
    void rpu_uniform_row(double *out, long n, uint32_t *scratch, uint64_t seed, uint64_t row,
                         uint64_t op, int purpose, uint32_t sub)
    float rpu_abs_max_row(const float *x, long n)
    double rpu_abs_max_row(const double *x, long n)
    void rpu_dac_row(const float *x, float *u, long n, float scale, float step, float bound,
                     float asymmetry, const float *noise, const float *shift)
    void rpu_dac_row(const double *x, double *u, long n, double scale, double step, double bound,
                     double asymmetry, const double *noise, const double *shift)
    int rpu_adc_row(float *v, long n, float step, float bound, float asymmetry, float factor,
                    const float *noise, const float *shift, int nonlinear, const float *nl_line,
                    float nlf)
    int rpu_adc_row(double *v, long n, double step, double bound, double asymmetry, double factor,
                    const double *noise, const double *shift, int nonlinear, const double *nl_line,
                    double nlf)

    cdef cppclass rpu_device_row[T]:
        const T *b_max
        const T *b_min
        const T *s_up
        const T *s_down
        const T *slope_up
        const T *slope_down
        const T *gamma_up
        const T *gamma_down
        const T *reference

    cdef cppclass rpu_device_globals[T]:
        int kind
        int mult_noise
        int n_nodes
        T sigma
        T A_up
        T A_down
        T gamma_up
        T gamma_down
        T a
        T b
        T std_add
        T std_slope
        const T *nodes_up
        const T *nodes_down

    void rpu_pulse_trains[T](const T *v, long v_stride, long n, const T *scales, const int *bls,
                             int per_element, T res, int sto_round, int nw, int mode,
                             uint64_t *trains, signed char *signs, T *dense, T *prob,
                             uint32_t *scratch, uint64_t seed, uint64_t fixed, uint64_t op,
                             int train_purpose, int round_purpose)
    long rpu_compact_sample(long n, int nw, int mode, const uint64_t *trains,
                            const signed char *signs, const float *dense, int *idx,
                            uint64_t *words, signed char *sgn, float *val)
    long rpu_compact_sample(long n, int nw, int mode, const uint64_t *trains,
                            const signed char *signs, const double *dense, int *idx,
                            uint64_t *words, signed char *sgn, double *val)
    int rpu_sample_is_dense(long count, long x_size)
    void rpu_dense_sample(long n, int nw, const uint64_t *trains, const signed char *signs,
                          signed char *fire)
    void rpu_update_row[T](T *stored, T *visible, long x_size, long m, int nw, int mode,
                           const int *x_cnt, const int *x_idx, const uint64_t *x_words,
                           const signed char *x_sgn, const T *x_val,
                           const signed char *x_fire, const T *d_col,
                           long d_stride, const T *a_scales, const int *bl, T d_res,
                           int sto_round, int lr_sign, int one_sided,
                           const rpu_device_globals[T] &g,
                           const rpu_device_row[T] &h, T write_noise, int needs_noise,
                           unsigned char *flags, T *normals, uint32_t *scratch, long chunk,
                           T *by_column, T *first_normals, int *first_samples,
                           uint64_t *d_train, signed char *d_sign, T *d_dense, T *prob,
                           uint32_t *words, int *pair_j, int *pair_n, int *pair_off,
                           int *pair_order, uint64_t seed,
                           uint64_t noise_seed, uint64_t row, uint64_t op,
                           const int *record_at, int n_record, int record_rows, T *record_out,
                           long record_stride)
    void rpu_exact_update_row[T](T *w, long x_size, long m, const T *X, const T *d_col,
                                 long d_stride, T lr, const T *b_min, const T *b_max)
    int rpu_certain_one_hot[T](const T *X, long m, long x_size, const double *scales, T res,
                               int *x_col, signed char *x_sgn)
    int rpu_certain_lines[T](const T *D, long m, long d_size, const T *scales, T res)
    int rpu_certain_counts[T](const int *counts, long rows, long m, const T *x_scales, T x_res,
                              const T *d_scales, T d_res)
    void rpu_write_row[T](T *stored, T *visible, long x_size, long m, const int *x_col,
                          const signed char *x_sgn, const T *d_col, long d_stride, int lr_sign,
                          const rpu_device_globals[T] &g, const rpu_device_row[T] &h,
                          T write_noise, int needs_noise, unsigned char *flags, int *samples,
                          uint32_t *words, T *normals, uint64_t noise_seed, uint64_t row,
                          uint64_t op)
    void rpu_chopped_buffer_row[T](T *h, const int *cols, const T *reads, const T *chop,
                                   long stride, const double *lr_scale, long n_ev, int max_n,
                                   T momentum, int forget_buffer, int no_buffer, int *counts)
    void rpu_dynamic_buffer_row[T](T *h, T *mu, T *mu_past, const int *cols, const T *reads,
                                   const T *chop, long stride, const double *lr_scale,
                                   const signed char *switched, long n_ev, int max_n, T momentum,
                                   int forget_buffer, T cap, T beta, int *counts)
    void rpu_buffered_buffer_row[T](T *h, const int *cols, const T *reads, long stride, T lr,
                                    T thres, long n_ev, int max_n, T momentum, int forget_buffer,
                                    int *counts)


cdef extern from "transfer.h" nogil:
    int rpu_chopped_buffer_step[T](T *h, T read, T chop, T lr_scale, int max_n, T momentum,
                                   int forget_buffer, int no_buffer)
    int rpu_dynamic_buffer_step[T](T *h, T *mu, T *mu_past, T read, T chop, T lr_scale,
                                   int switched, int max_n, T momentum, int forget_buffer, T cap,
                                   T beta)


cdef extern from "pcm_noise.h" nogil:
    # Overloads where an argument is a pointer (Cython cannot deduce a template from it).
    float rpu_pcm_prog_std(float g_target, const float *coeff, int n_coeff, float g_max,
                           float g_max_ref)
    double rpu_pcm_prog_std(double g_target, const double *coeff, int n_coeff, double g_max,
                            double g_max_ref)
    T rpu_nu_draw[T](T mu, T sigma, T drift_scale, T xi)
    T rpu_pcm_time_ratio[T](T t_inference, T t_0)
    T rpu_pcm_drift_factor[T](T nu, T time_ratio)
    T rpu_pcm_read_time_factor[T](T t_inference, T t_0, T t_read)


# Weight modifiers (hardware-aware training), weight_modifier.h; their RNG purposes.
cdef extern from "rng_ids.h" nogil:
    cdef enum:
        RPU_RNG_MODIFIER_NOISE
        RPU_RNG_MODIFIER_ROUND
        RPU_RNG_DROP_CONNECT
        RPU_RNG_MODIFIER_PCM_EVENTS

cdef extern from "weight_modifier.h" nogil:
    cdef enum:
        RPU_WM_COPY
        RPU_WM_DISCRETIZE
        RPU_WM_MULT_NORMAL
        RPU_WM_ADD_NORMAL
        RPU_WM_DISCRETIZE_ADD_NORMAL
        RPU_WM_DOREFA
        RPU_WM_POLY
        RPU_WM_PROG_NOISE
        RPU_WM_PCM_NOISE
        RPU_WM_DROP_CONNECT

    cdef cppclass rpu_wm_params[T]:
        int type
        T amax
        T res
        T std_dev
        T dorefa_scale
        T g_max
        const T *coeffs
        int n_coeffs
        T pcm_zero_thres
        T pcm_t
        T pcm_t0
        T pcm_read_factor
        T pcm_prob_at_reset
        T pcm_prob_at_gmax
        T pcm_prob_at_random

    T rpu_wm_quantize[T](T v, T res, T shift)
    T rpu_wm_dorefa_scale[T](T dorefa_clip, T amax)
    double rpu_wm_pcm_read_factor(double t)
    T rpu_wm_element[T](T w, const rpu_wm_params[T] &p, T xi, T shift)
    T rpu_wm_pcm[T](T w, const rpu_wm_params[T] &p, T xi_prog, T xi_drift, T xi_read, T u_reset,
                    T u_gmax, T u_gmax_side, T u_random, T u_random_level)
    T rpu_wm_drop[T](T w, T u, T pdrop)
# ----- the other inference noise models (noise_models.h) ------------------------------------------
cdef extern from "rng_ids.h" nogil:
    cdef enum:
        RPU_RNG_INF_RELAXATION

cdef extern from "noise_models.h" nogil:
    T rpu_noise_program[T](T g_target, T sigma, T scale, int clip_zero, T xi)
    cdef enum:
        RPU_NOISE_DRIFT_STATE_INDEPENDENT
        RPU_NOISE_DRIFT_HERMES
        RPU_NOISE_DRIFT_RERAM_CMO
        RPU_NOISE_DRIFT_PCM
    void rpu_nu_moments_of(int model, float g_target, float g_max, int num_devices, float *mu,
                           float *sigma)
    void rpu_nu_moments_of(int model, double g_target, double g_max, int num_devices,
                           double *mu, double *sigma)
    T rpu_drift_nu_of[T](int model, T g_target, T g_max, int num_devices, T drift_scale, T xi)
    T rpu_read_std_of[T](int model, T g_prog, T g_max, int num_devices, T time_factor)
    T rpu_noise_drift_read[T](int model, int num_devices, const T *par, T g_prog, T nu,
                              T xi_relax, T xi_read)


cdef extern from "transfer.h" nogil:
    int rpu_buffered_buffer_step[T](T *h, T read, T lr, T thres, int max_n, T momentum,
                                    int forget_buffer)
    void rpu_running_max_series(double running, const double *values, long n, double tau,
                                double *out)
    void rpu_running_max_series(float running, const float *values, long n, float tau,
                                float *out)


cdef extern from "unit_cells.h" nogil:
    int rpu_one_sided_count(int c, int side)
    int rpu_refresh_needed[T](T p, T m, T wp, T wm, T upper, T lower)


cdef extern from "mvm_io.h" nogil:
    double rpu_nm_cap(double m, double thres, int averaged)
    # float/double overloads of the template (Cython cannot deduce T from a pointer)
    double rpu_nm_abs_max_np_sum(const float *x, int64_t n, double thres, double out_bound,
                                 double assumed_wmax, double inp_step, double max_bm_res)
    double rpu_nm_abs_max_np_sum(const double *x, int64_t n, double thres, double out_bound,
                                 double assumed_wmax, double inp_step, double max_bm_res)


cdef extern from "update_management.h" nogil:
    cdef struct rpu_update_management_params:
        double granularity, um_grad_scale
        int desired_bl, fixed_bl, update_bl_management, update_management, single_precision
    void rpu_update_management(double lr, double x_max, double d_max,
                               const rpu_update_management_params &p, long *bl_out,
                               double *a_out, double *b_out)
