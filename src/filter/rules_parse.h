/* rules_parse: the rule file's tokenizer and parser (the format is in
 * README "Content filter rules"). Everything is checked here, once:
 * regexes compiled, networks parsed, reply codes and enhanced codes
 * validated, so evaluation never meets a bad rule. Errors name the file
 * and line. */
#ifndef MOAT_RULES_PARSE_H
#define MOAT_RULES_PARSE_H

#include <stddef.h>

#include "rules.h"

/* Parse len octets of rule text; fname only names the errors. Returns
 * 0 with a new rule set in *r_r (refs 0), or -1 with "fname:line: why"
 * in err. */
int rules_parse(const char *text, size_t len, const char *fname,
    struct rules **r_r, char *err, size_t errlen);
/* Read (at most RULES_FILE_MAX octets) and parse path. */
int rules_load(const char *path, struct rules **r_r, char *err,
    size_t errlen);

#endif
