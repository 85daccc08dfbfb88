/* rules_parse: (not written yet). */
#ifndef MOAT_RULES_PARSE_H
#define MOAT_RULES_PARSE_H
#endif
