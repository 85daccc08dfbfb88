/* bounce: delivery status notifications (RFC 3464 in a multipart/report,
 * RFC 6522) to the envelope sender of a message that failed or is
 * delayed. A DSN is queued like any message, from the null reverse-path,
 * so it can never cause another DSN; none is made for a message whose
 * sender is the null reverse-path (RFC 5321 4.5.5). */
#ifndef MOAT_BOUNCE_H
#define MOAT_BOUNCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "queue.h"

#define BOUNCE_HEADERS_MAX (64 * 1024)	/* original headers returned */

struct bounce_rcpt {
	const char	*rcpt;
	const char	*status;	/* RFC 3463 code, "5.1.1" */
	const char	*diag;		/* the reply or reason */
	const char	*remote_mta;	/* host name or NULL */
};

/* Queue a DSN (failed, or delayed when delayed is true) about env to
 * env->from. msg/msglen is the original message (its headers are
 * returned). Blocking (writes and fsyncs the queue file). Returns 0, 1
 * when no DSN is due (null sender), or -1 with errno. */
int bounce_enqueue(const char *data_dir, const char *hostname,
    const struct queue_envelope *env, const uint8_t *msg, size_t msglen,
    const struct bounce_rcpt *rcpts, size_t n, bool delayed,
    char qid_r[QUEUE_ID_LEN + 1]);

/* The RFC 3463 status in a reply text ("550 5.1.1 ..." -> "5.1.1"), or a
 * generic one from the reply class. dst has room for 16 octets. */
void bounce_status_from_text(const char *text, bool perm, char dst[16]);

#endif
