/* smtp_filter_attach: the stage of attachment policy by name and detected type (also inside archives) and the
 * decoded-size, nesting and part-count limits against bombs.
 * (Not written yet: the stage passes every message on.) */
#include "smtp_session_private.h"

void
smtp_filter_attach(struct smtp_session *s)
{
	smtp_filter_next(s);
}
