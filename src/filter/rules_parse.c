/* rules_parse: (not written yet). */
#include "rules_parse.h"

/* A placeholder symbol until the module is written. */
int rules_parse_placeholder(void);
int
rules_parse_placeholder(void)
{
	return 0;
}
