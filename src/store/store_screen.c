/* store_screen: placeholder, being written. */
#include "store_int.h"
typedef int store_screen_placeholder;
