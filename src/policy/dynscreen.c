/* dynscreen: placeholder, being written. */
#include "dynscreen.h"
typedef int dynscreen_placeholder;
