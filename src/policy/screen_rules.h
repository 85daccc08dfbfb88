/* screen_rules: the compiled, immutable set of static screening rules
 * (the screen_rules table, store_screen.h) that workers consult on
 * every connection, HELO, MAIL and RCPT. Built once per reload; the
 * common lookups are hash probes, never scans over all rules:
 * networks by (family, prefix length), exact names, "*.suffix"
 * wildcards by walking the labels of the name, exact addresses and
 * domains. Only general globs ("mail*.example.net") are scanned.
 *
 * Semantics: allow beats deny. If an enforce-mode allow rule matches,
 * the verdict is ALLOW; else if an enforce-mode deny rule matches,
 * DENY; else NONE. Shadow-mode rules never change the verdict; when
 * enforcing them would have changed it, the verdict says what it would
 * have been and which shadow rule made it so, for the log. Among rules
 * of the same standing the lowest id is reported.
 *
 * Scope: each match names the service and a scope domain. Rules for
 * other services never match; NULL scope sees only global rules, a
 * local domain sees the global rules and that domain's rules.
 *
 * A set is never changed after it is built: a reload builds a new one,
 * and any number of threads may match against a built set at once. */
#ifndef MOAT_SCREEN_RULES_H
#define MOAT_SCREEN_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store_screen.h"	/* actions, kinds, services */

struct screen_rules;
struct store;

/* One rule, as reported in a verdict. The strings belong to the set
 * and live as long as it does. */
struct screen_hit {
	int64_t			 id;
	enum screen_action	 action;
	enum screen_kind	 kind;
	const char		*pattern;	/* canonical, lower case */
	const char		*domain;	/* "" for a global rule */
	bool			 shadow;
};

struct screen_verdict {
	enum screen_action	 action;	/* what to do */
	struct screen_hit	 rule;		/* why (action != NONE) */
	/* SCREEN_NONE, or the verdict had the shadow rules been
	 * enforced, when that differs from action ("would have
	 * refused"), and the shadow rule responsible. */
	enum screen_action	 shadow_action;
	struct screen_hit	 shadow_rule;
};

/* Building. screen_rules_add copies what it keeps; services is a
 * non-zero SCREEN_SVC_* mask; domain NULL or "" makes a global rule.
 * Returns 0, or -1 with *error_r (pattern not valid for kind, ...). */
struct screen_rules *screen_rules_new(void);
int screen_rules_add(struct screen_rules *set, enum screen_action action,
    enum screen_kind kind, const char *pattern, unsigned services,
    const char *domain, bool shadow, int64_t id, const char **error_r);
void screen_rules_free(struct screen_rules **set);
size_t screen_rules_count(const struct screen_rules *set);
/* Rules of one kind (a scan: once per load, not per match). */
size_t screen_rules_count_kind(const struct screen_rules *set,
    enum screen_kind kind);

/* Compile every rule of the table into a new set. A stored rule the
 * matcher refuses is logged and left out. 0 with *out, or -1 with
 * *error_r (database error). */
int screen_rules_load(struct store *st, struct screen_rules **out,
    const char **error_r);

/* Matching. set may be NULL (no rules). Each fills *v and returns
 * v->action. svc is one SCREEN_SVC_* bit.
 * ip: a numeric IPv4 or IPv6 address; an IPv4-mapped IPv6 address
 * matches IPv4 networks; text that is no address matches nothing. */
enum screen_action screen_match_ip(const struct screen_rules *set,
    enum screen_service svc, const char *scope, const char *ip,
    struct screen_verdict *v);
/* hostname: the rDNS name (a trailing dot is ignored). Patterns: an
 * exact name, "*.example.net" (any name below example.net, not
 * example.net itself), globs with '*' and '?'; case-insensitive. */
enum screen_action screen_match_host(const struct screen_rules *set,
    enum screen_service svc, const char *scope, const char *hostname,
    struct screen_verdict *v);
/* helo: the HELO/EHLO argument; the same pattern language as host. */
enum screen_action screen_match_helo(const struct screen_rules *set,
    enum screen_service svc, const char *scope, const char *helo,
    struct screen_verdict *v);
/* address: the envelope address without angle brackets ("" for the
 * null sender). Patterns: "user@example.com"; "@example.com",
 * "*@example.com" or "example.com" (any address at that domain);
 * "*.example.com" or "*@*.example.com" (any address at a subdomain);
 * other globs: with an '@' they match the whole address, without one
 * the domain. Case-insensitive. */
enum screen_action screen_match_sender(const struct screen_rules *set,
    enum screen_service svc, const char *scope, const char *address,
    struct screen_verdict *v);
enum screen_action screen_match_rcpt(const struct screen_rules *set,
    enum screen_service svc, const char *scope, const char *address,
    struct screen_verdict *v);

/* Combine the verdict src of another check into dst (both filled by
 * the functions above, or dst zeroed): the result is what one match
 * over the rules of both would give. */
void screen_verdict_merge(struct screen_verdict *dst,
    const struct screen_verdict *src);

/* "deny ip 192.0.2.0/24 #17" (plus " domain=D" for a domain rule and
 * " shadow" for a shadow rule), for "rule=..." in logs. */
void screen_hit_format(const struct screen_hit *h, char *buf, size_t len);
#define SCREEN_HIT_TEXT_MAX	(SCREEN_PATTERN_MAX + 320)

#endif
