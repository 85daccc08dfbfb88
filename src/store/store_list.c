/* store_list: (not written yet). */
#include "store_list.h"

/* A placeholder symbol until the module is written. */
int store_list_placeholder(void);
int
store_list_placeholder(void)
{
	return 0;
}
