/* list_expand: (not written yet). */
#include "list_expand.h"

/* A placeholder symbol until the module is written. */
int list_expand_placeholder(void);
int
list_expand_placeholder(void)
{
	return 0;
}
