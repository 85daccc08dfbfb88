/* imap_junk: (not written yet). */
#include "imap_junk.h"

/* A placeholder symbol until the module is written. */
int imap_junk_placeholder(void);
int
imap_junk_placeholder(void)
{
	return 0;
}
