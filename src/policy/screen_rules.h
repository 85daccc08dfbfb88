/* screen_rules: placeholder, being written. */
#ifndef MOAT_SCREEN_RULES_H
#define MOAT_SCREEN_RULES_H
#endif
