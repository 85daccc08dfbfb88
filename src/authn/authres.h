/* authres: our Authentication-Results header field (RFC 8601) from the
 * SPF, DKIM, DMARC and ARC results, with the configured hostname as
 * authserv-id, and finding incoming Authentication-Results fields that
 * claim that authserv-id (RFC 8601 5: a receiver removes them, since only
 * it may speak for its name). The same value is the payload of our
 * ARC-Authentication-Results when sealing (arc_seal's ar_value).
 *
 * SECURITY: the results carry fixed reasons and checked domain names;
 * the MAIL FROM address is written only when it consists of safe
 * characters (else its domain alone), so no input can end the field or
 * start a new one. */
#ifndef MOAT_AUTHRES_H
#define MOAT_AUTHRES_H

#include <stdbool.h>
#include <stddef.h>

#include "arc.h"
#include "dkim.h"
#include "dmarc.h"
#include "spf.h"

struct buf;

#define AUTHRES_FIELD_MAX	8192	/* our whole field */
#define AUTHRES_ID_MAX		255	/* authserv-id (a host name) */
#define AUTHRES_FIELDS_MAX	1000	/* header fields looked at */

struct authres_input {
	const char	*authserv_id;	/* our hostname */
	bool		 spf_checked;
	enum spf_result	 spf;
	const char	*mail_from;	/* "" for the null sender */
	const char	*helo;
	const struct dkim_result *dkim;	/* NULL/0 with dkim_checked: none */
	size_t		 ndkim;
	bool		 dkim_checked;
	const struct dmarc_result *dmarc;	/* NULL: not checked */
	const struct arc_result *arc;		/* NULL: not checked */
	/* Sender ID (RFC 4406), when checked: the result and the PRA */
	bool		 sender_id_checked;
	enum spf_result	 sender_id;
	const char	*pra;
};

/* Append the field value (authserv-id, then one resinfo per method
 * separated by ";" and folded as CRLF TAB, no final CRLF; "none" when
 * nothing was checked) to out. Returns 0 or -1 (out full, bad id). */
int authres_value(const struct authres_input *in, struct buf *out);
/* "Authentication-Results: <value>\r\n" appended to out. 0 or -1. */
int authres_field(const struct authres_input *in, struct buf *out);

struct authres_range {
	size_t		 off;		/* in the message */
	size_t		 len;		/* the whole field with its CRLF */
};

/* The Authentication-Results fields of the header of msg whose
 * authserv-id is authserv_id (case-insensitive). Fills up to max ranges
 * in message order and returns how many there are (which may be more
 * than max: call again with more room). */
size_t authres_forged(const void *msg, size_t len, const char *authserv_id,
    struct authres_range *ranges, size_t max);

#endif
