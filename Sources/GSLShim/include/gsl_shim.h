#ifndef UNV_GSL_SHIM_H
#define UNV_GSL_SHIM_H
#include <stddef.h>
#include <gsl/gsl_rng.h>

/// The MT19937 generator type (a global C variable, wrapped so Swift 6 sees no shared mutable state).
const gsl_rng_type *unv_gsl_rng_mt19937(void);

/// Installs an error handler that records GSL errors (per thread) instead of aborting.
void unv_gsl_install_handler(void);
/// Clears the recorded error of this thread.
void unv_gsl_clear_error(void);
/// Returns the recorded GSL error code of this thread (0 if none) and copies its reason.
int unv_gsl_last_error(char *reason, size_t capacity);
/// Calls GSL's own default handler path deliberately with an error (for tests).
void unv_gsl_raise_test_error(void);
#endif
