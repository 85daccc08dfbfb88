/* list_request: (not written yet). */
#include "list_request.h"

/* A placeholder symbol until the module is written. */
int list_request_placeholder(void);
int
list_request_placeholder(void)
{
	return 0;
}
