# OpenMP guard: the core compiles with or without OpenMP. Without it, prange runs serially and
# these stubs report one thread, so results stay the same (randomness never depends on threads).
cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define RPU_OPENMP_ENABLED 1
    #else
    #define RPU_OPENMP_ENABLED 0
    static inline int omp_get_max_threads(void) { return 1; }
    #endif
    """
    bint RPU_OPENMP_ENABLED
    int omp_get_max_threads() nogil
