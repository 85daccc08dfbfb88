/* screen_rules: placeholder, being written. */
#include "screen_rules.h"
typedef int screen_rules_placeholder;
