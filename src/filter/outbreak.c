/* outbreak: (not written yet). */
#include "outbreak.h"

/* A placeholder symbol until the module is written. */
int outbreak_placeholder(void);
int
outbreak_placeholder(void)
{
	return 0;
}
