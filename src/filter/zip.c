/* zip: (not written yet). */
#include "zip.h"

/* A placeholder symbol until the module is written. */
int zip_placeholder(void);
int
zip_placeholder(void)
{
	return 0;
}
