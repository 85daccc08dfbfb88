/* quarantine: (not written yet). */
#include "quarantine.h"

/* A placeholder symbol until the module is written. */
int quarantine_placeholder(void);
int
quarantine_placeholder(void)
{
	return 0;
}
