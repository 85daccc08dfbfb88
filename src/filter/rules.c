/* rules: (not written yet). */
#include "rules.h"

/* A placeholder symbol until the module is written. */
int rules_placeholder(void);
int
rules_placeholder(void)
{
	return 0;
}
