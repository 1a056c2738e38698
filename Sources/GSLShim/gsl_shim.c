#include "gsl_shim.h"
#include <gsl/gsl_errno.h>
#include <string.h>
#include <stdio.h>

// GSL's default handler calls abort(). This one records the error in thread-local storage;
// the Swift side reads and clears it after every call and throws.
static _Thread_local int last_code = 0;
static _Thread_local char last_reason[256];

static void record(const char *reason, const char *file, int line, int gsl_errno) {
    last_code = gsl_errno;
    snprintf(last_reason, sizeof last_reason, "%s (%s:%d)", reason ? reason : "", file ? file : "", line);
}

void unv_gsl_install_handler(void) { gsl_set_error_handler(&record); }

void unv_gsl_clear_error(void) { last_code = 0; last_reason[0] = 0; }

int unv_gsl_last_error(char *reason, size_t capacity) {
    if (reason && capacity > 0) {
        strncpy(reason, last_reason, capacity - 1);
        reason[capacity - 1] = 0;
    }
    return last_code;
}

void unv_gsl_raise_test_error(void) { GSL_ERROR_VOID("deliberate test error", GSL_EDOM); }

const gsl_rng_type *unv_gsl_rng_mt19937(void) { return gsl_rng_mt19937; }
