/* list_auth: what a mailing list does to a post's authentication before
 * it goes out to the members (RFC 6377, RFC 7960, RFC 8617): the
 * author's DKIM signatures are removed (the list changes the message, so
 * they would fail; our Authentication-Results keeps their result), From
 * is rewritten to the list ("Name via LIST") with Reply-To the author (Cc
 * when the list sets Reply-To to itself, as Mailman does) and
 * X-Original-From when the author's domain publishes DMARC p=quarantine
 * or p=reject, and
 * the list's own domain signs (DKIM) and seals (ARC) the copy. */
#ifndef MOAT_LIST_AUTH_H
#define MOAT_LIST_AUTH_H

#include <stdbool.h>

#include "buf.h"
#include "store.h"

struct list_auth_params {
	const char	*list_addr;	/* list@domain */
	const char	*list_name;	/* the list's display name */
	const char	*list_domain;
	const char	*author_dmarc;	/* envelope author_dmarc, or NULL */
	const char	*hostname;	/* our authserv-id */
	bool		 strip_dkim;
	bool		 arc_seal;
};

/* Rewrite msg (a whole post, list headers already added) in place.
 * Blocking (reads keys from st): the thread pool. 0, or -1 with
 * *error_r. */
int list_auth_transform(struct store *st, struct buf *msg,
    const struct list_auth_params *p, const char **error_r);

#endif
