/* store_screen: the screen_rules table (static allow/deny rules on the
 * client address, its rDNS name, HELO, sender and recipient) and the
 * vocabulary of a rule: actions, kinds, service names, and what a
 * pattern of each kind may look like. Patterns are validated and put
 * in a canonical form (lower case; networks with host bits cleared)
 * before they are stored, so the compiled matcher (screen_rules.h) and
 * "del KIND PATTERN" see the same text the admin meant. */
#ifndef MOAT_STORE_SCREEN_H
#define MOAT_STORE_SCREEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "store.h"

/* The verdict of a rule, and of a match (screen_rules.h). */
enum screen_action {
	SCREEN_NONE = 0,
	SCREEN_ALLOW,
	SCREEN_DENY,
};

enum screen_kind {
	SCREEN_KIND_IP = 0,	/* client address: CIDR */
	SCREEN_KIND_HOST,	/* client rDNS name: hostname glob */
	SCREEN_KIND_HELO,	/* HELO/EHLO argument: hostname glob */
	SCREEN_KIND_SENDER,	/* MAIL FROM: address glob */
	SCREEN_KIND_RCPT,	/* RCPT TO: address glob */
	SCREEN_KIND_COUNT
};

/* Services a rule applies to, one bit each; "*" is all of them. */
enum screen_service {
	SCREEN_SVC_SMTP		= 1u << 0,
	SCREEN_SVC_SUBMISSION	= 1u << 1,
	SCREEN_SVC_IMAP		= 1u << 2,
	SCREEN_SVC_POP3		= 1u << 3,
	SCREEN_SVC_WEB		= 1u << 4,
};
#define SCREEN_SVC_ALL		0x1fu

#define SCREEN_PATTERN_MAX	320	/* an address: 64 + 1 + 255 */
#define SCREEN_COMMENT_MAX	512
#define SCREEN_SERVICES_MAX	64	/* "smtp,submission,...,web" */

/* "allow", "deny" (SCREEN_NONE: "none"). */
const char *screen_action_name(enum screen_action a);
int screen_action_parse(const char *s, enum screen_action *a_r);
/* "ip", "host", "helo", "sender", "rcpt". */
const char *screen_kind_name(enum screen_kind k);
int screen_kind_parse(const char *s, enum screen_kind *k_r);
/* One service name ("smtp", ...), case-insensitive: 0 or -1. */
int screen_service_parse(const char *s, enum screen_service *svc_r);
const char *screen_service_name(enum screen_service svc);
/* A comma list of service names or "*": a non-zero mask, 0 or -1. */
int screen_services_parse(const char *s, unsigned *mask_r);
/* The canonical text of a mask: "*" for all, else the names in the
 * order of enum screen_service, comma-separated. */
void screen_services_format(unsigned mask, char *buf, size_t len);
/* Validate pattern for kind and write its canonical form to out (at
 * least SCREEN_PATTERN_MAX + 1 bytes): ip must parse as ADDR[/PREFIX];
 * host and helo are hostname globs (letters, digits, '-', '.', '_',
 * '*', '?'; helo also '[', ']', ':' for address literals); sender and
 * rcpt are address globs ("user@example.com", "@example.com",
 * "example.com", "*@*.example.com", ...). Returns 0, or -1 with
 * *error_r. */
int screen_pattern_canon(enum screen_kind kind, const char *pattern,
    char *out, size_t outlen, const char **error_r);

/* A rule as stored. Strings are lower case; domain "" is global. */
struct screen_row {
	int64_t			 id;
	enum screen_action	 action;	/* ALLOW or DENY */
	enum screen_kind	 kind;
	const char		*pattern;
	unsigned		 services;	/* SCREEN_SVC_* mask */
	const char		*domain;	/* "" or NULL: global */
	bool			 shadow;	/* log only, never act */
	const char		*comment;	/* may be NULL */
};

/* Validate and insert a rule (row->id is ignored); the domain, when not
 * empty, must be a local domain. *id_r (may be NULL) gets the new id.
 * Returns 0, or -1 with *error_r ("rule exists", "no such domain",
 * ...). */
int store_screen_add(struct store *st, const struct screen_row *row,
    int64_t *id_r, const char **error_r);
/* Remove the rule id: 0, or -1 with *error_r ("no such rule"). */
int store_screen_del_id(struct store *st, int64_t id, const char **error_r);
/* Remove the rules (action, kind, pattern) of domain (NULL or "": the
 * global ones), whatever their services; *n_r (may be NULL) gets how
 * many. Returns 0, or -1 with *error_r ("no such rule" when none). */
int store_screen_del(struct store *st, enum screen_action action,
    enum screen_kind kind, const char *pattern, const char *domain,
    unsigned *n_r, const char **error_r);
/* Rows of id, action, kind, pattern, services, domain, mode, comment in
 * id order; action and kind NULL for any. 0 or -1. */
int store_screen_list(struct store *st, const char *action,
    const char *kind, store_row_cb *cb, void *ctx);
/* Add every rule of the file fp in one transaction. A line is
 *	allow|deny KIND PATTERN [services=a,b] [domain=D] [mode=shadow]
 *	    [# comment]
 * blank lines and lines starting with '#' are skipped. A rule that is
 * already stored is counted in *skipped_r and not added again, so a
 * file can be imported twice. Any other bad line imports nothing:
 * returns -1 with *error_r "line N: ...". 0 with *added_r. */
int store_screen_import(struct store *st, FILE *fp, unsigned *added_r,
    unsigned *skipped_r, const char **error_r);

/* Every stored rule to cb in id order; strings valid during the call.
 * A row that no longer parses (edited by hand) is logged and skipped:
 * one broken rule must not take the others with it. cb returns 0 to
 * go on or -1 to stop (the load then fails). 0, or -1 with *error_r. */
typedef int store_screen_cb(void *ctx, const struct screen_row *row);
int store_screen_load(struct store *st, store_screen_cb *cb, void *ctx,
    const char **error_r);

#endif
