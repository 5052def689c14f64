/* rng_ids.h -- the registry of random-number purposes.
 *
 * A random draw in rpu is a pure function of (tile seed, operation counter, purpose, element
 * index), see philox.h. The purpose id keeps the streams of different jobs apart: the output noise
 * of a forward pass and its input noise never reuse each other's numbers, even for the same element
 * and operation. Ids are stable: saved tiles store the counters, so renumbering an id would change
 * the random stream of a loaded tile. Append new ids; never reuse or reorder. The Python IntEnum
 * rpu._rng.Purpose mirrors this list and a test checks that they agree.
 */
#ifndef RPU_RNG_IDS_H
#define RPU_RNG_IDS_H

enum rpu_rng_purpose {
  RPU_RNG_WEIGHT_INIT = 1,        /* set_weights_uniform_random */
  RPU_RNG_FB_CONSTRUCTION = 2,    /* fixed per-output draws of the forward/backward periphery */
  RPU_RNG_INP_NOISE = 3,          /* DAC additive input noise */
  RPU_RNG_INP_STO_ROUND = 4,      /* DAC stochastic rounding */
  RPU_RNG_OUT_NOISE = 5,          /* ADC additive output noise */
  RPU_RNG_OUT_STO_ROUND = 6,      /* ADC stochastic rounding */
  RPU_RNG_W_NOISE = 7,            /* output-referred weight (read) noise */
  RPU_RNG_W_NOISE_NEG_PASS = 8,   /* weight noise of the negative pass in the POS_NEG mv types */
  RPU_RNG_X_TRAIN = 9,            /* Bernoulli slots of the x pulse trains */
  RPU_RNG_D_TRAIN = 10,           /* Bernoulli slots of the d pulse trains */
  RPU_RNG_X_PROB_ROUND = 11,      /* stochastic rounding of the x pulse probabilities */
  RPU_RNG_D_PROB_ROUND = 12,      /* stochastic rounding of the d pulse probabilities */
  RPU_RNG_PULSE_NOISE = 13,       /* cycle-to-cycle noise of each device pulse */
  RPU_RNG_WRITE_NOISE = 14,       /* visible-weight write noise of persistent devices */
  RPU_RNG_DEVICE_CONSTRUCTION = 15, /* device-to-device draws (keyed by construction_seed) */
  RPU_RNG_DECAY_DIFFUSE = 16,     /* diffusion noise */
  RPU_RNG_RESET = 17,             /* reset_columns: reset noise and the reset coin */
  RPU_RNG_DRIFT = 18,             /* drift: per-call nu spread and read noise */
  RPU_RNG_INF_PROG_NOISE = 19,    /* inference noise model: programming noise (sub = g slice) */
  RPU_RNG_INF_DRIFT_NU = 20,      /* inference noise model: drift exponents (sub = g slice) */
  RPU_RNG_INF_READ_NOISE = 21,    /* inference noise model: read noise at t_inference (sub = g slice) */
  RPU_RNG_MODIFIER_NOISE = 22,    /* weight modifier: Gaussian noise (PCM_NOISE: sub 0 prog, 1 drift, 2 read) */
  RPU_RNG_MODIFIER_ROUND = 23,    /* weight modifier: stochastic rounding of the quantisers */
  RPU_RNG_DROP_CONNECT = 24,      /* weight modifier: drop-connect coin (pdrop) */
  RPU_RNG_MODIFIER_PCM_EVENTS = 25, /* weight modifier PCM_NOISE: reset/g_max/random coins (sub 0-4) */
  RPU_RNG_INF_RELAXATION = 26     /* ReRamCMO noise model: conductance relaxation at t_inference */
};

#endif /* RPU_RNG_IDS_H */
