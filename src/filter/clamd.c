/* clamd: placeholder, being written. */
#include "clamd.h"
typedef int clamd_placeholder;
