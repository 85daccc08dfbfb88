/* smtp_filter_rules: the stage of the admin's content-filter rules (a reloadable rule file).
 * (Not written yet: the stage passes every message on.) */
#include "smtp_session_private.h"

void
smtp_filter_rules(struct smtp_session *s)
{
	smtp_filter_next(s);
}
