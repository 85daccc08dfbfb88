/* rules: (not written yet). */
#ifndef MOAT_RULES_H
#define MOAT_RULES_H
#endif
