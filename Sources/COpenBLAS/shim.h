// Debian's OpenBLAS (libopenblas-dev): its cblas.h, found through pkg-config's include path.
#include <cblas.h>
