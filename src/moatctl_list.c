/* moatctl_list: "moatctl list ...": mailing lists (store_list.h) and
 * their members, pending confirmations, carrying out a token (a held
 * post approved by the admin), and sending a digest now. */
#include "moatctl_list.h"

#include <stdio.h>
#include <string.h>

#include "list_digest.h"
#include "list_request.h"
#include "store.h"
#include "store_list.h"
#include "store_list_digest.h"
#include "util.h"

int
moatctl_list_refuse_address(struct store *st, const char *what,
    const char *address)
{
	int r = store_list_address_used(st, address);

	if (r == 0)
		return 0;
	fprintf(stderr, "moatctl: %s: %s\n", what, r < 0 ? "database error" :
	    "that is an address of a mailing list (moatctl list)");
	return 1;
}

static int
usage(void)
{
	fprintf(stderr, "usage: moatctl list [show]\n"
	    "       moatctl list add LIST@DOMAIN [--name NAME] "
	    "[--post members|anyone|moderated]\n"
	    "            [--prefix TEXT] [--reply-to list|author|none] "
	    "[--max-size N] [--moderator ADDR]\n"
	    "            [--digest on|off] [--digest-size N] "
	    "[--digest-interval DURATION]\n"
	    "       moatctl list set LIST KEY=VALUE...   (or KEY VALUE; name, "
	    "post, prefix,\n"
	    "            reply_to, max_size, moderator, digest, digest_size, "
	    "digest_interval)\n"
	    "       moatctl list del LIST\n"
	    "       moatctl list show LIST\n"
	    "       moatctl list member add|del|enable|disable LIST ADDR...\n"
	    "       moatctl list member set LIST ADDR mode=each|digest\n"
	    "       moatctl list digest LIST   (send the digest now)\n"
	    "       moatctl list tokens LIST\n"
	    "       moatctl list confirm TOKEN\n");
	return 2;
}

static void
all_row(void *ctx, const char *const *cols, int ncols)
{
	unsigned *n = ctx;

	/* address, name, post, active, all */
	if (ncols < 5)
		return;
	printf("%-40s %-10s %6s/%-6s %s\n", cols[0], cols[2], cols[3],
	    cols[4], cols[1]);
	(*n)++;
}

static void
member_row(void *ctx, const char *const *cols, int ncols)
{
	unsigned *n = ctx;

	/* address, state, bounces, joined, token, mode */
	if (ncols < 6)
		return;
	printf("  %-40s %-9s bounces=%-3s joined=%s mode=%s\n", cols[0],
	    cols[1], cols[2], cols[3], cols[5]);
	(*n)++;
}

static void
token_row(void *ctx, const char *const *cols, int ncols)
{
	unsigned *n = ctx;

	/* token, address, action, expires, size */
	if (ncols < 5)
		return;
	printf("%s %-11s %-40s expires=%s%s%s\n", cols[0], cols[2], cols[1],
	    cols[3], strcmp(cols[4], "0") != 0 ? " size=" : "",
	    strcmp(cols[4], "0") != 0 ? cols[4] : "");
	(*n)++;
}

static int
show_one(struct store *st, const char *address)
{
	struct list_info li;
	const char *error = NULL;
	uint64_t posts = 0, octets = 0;
	unsigned n = 0;

	if (store_list_get(st, address, &li, &error) < 0) {
		fprintf(stderr, "moatctl: %s: %s\n", address, error);
		return 1;
	}
	if (store_list_digest_pending(st, li.address, &posts, &octets) < 0) {
		fprintf(stderr, "moatctl: database error\n");
		return 1;
	}
	printf("list:      %s\nname:      %s\npost:      %s\nprefix:    %s\n"
	    "reply_to:  %s\nmax_size:  %llu%s\nmoderator: %s\n"
	    "digest:    %s size=%llu interval=%llus waiting=%llu/%llu\n"
	    "members:\n",
	    li.address, li.name, list_post_name(li.post), li.prefix,
	    list_reply_to_name(li.reply_to),
	    (unsigned long long)li.max_size, li.max_size ? "" : " (none)",
	    li.moderator[0] ? li.moderator : "(none)",
	    li.digest ? "on" : "off", (unsigned long long)li.digest_size,
	    (unsigned long long)li.digest_interval,
	    (unsigned long long)posts, (unsigned long long)octets);
	if (store_list_members(st, li.address, member_row, &n) < 0) {
		fprintf(stderr, "moatctl: database error\n");
		return 1;
	}
	if (n == 0)
		printf("  (none)\n");
	return 0;
}

/* "--opt VALUE" pairs of list add, as list set keys. */
static const struct {
	const char	*opt;
	const char	*key;
} add_opts[] = {
	{ "--name", "name" }, { "--post", "post" }, { "--prefix", "prefix" },
	{ "--reply-to", "reply_to" }, { "--max-size", "max_size" },
	{ "--moderator", "moderator" }, { "--digest", "digest" },
	{ "--digest-size", "digest_size" },
	{ "--digest-interval", "digest_interval" },
};

static int
cmd_add(struct store *st, int argc, char **argv)
{
	struct list_info li;
	const char *error = NULL;
	int i;
	size_t k;

	if (argc < 1 || argc % 2 != 1)
		return usage();
	memset(&li, 0, sizeof(li));
	if (strlen(argv[0]) > LIST_ADDR_MAX) {
		fprintf(stderr, "moatctl: list address too long\n");
		return 2;
	}
	moat_strlcpy(li.address, argv[0], sizeof(li.address));
	ascii_lower(li.address);
	for (i = 1; i < argc; i += 2) {
		for (k = 0; k < sizeof(add_opts) / sizeof(add_opts[0]); k++)
			if (strcmp(argv[i], add_opts[k].opt) == 0)
				break;
		if (k == sizeof(add_opts) / sizeof(add_opts[0]))
			return usage();
	}
	/* Created with the defaults, then each option through the same
	 * validation as list set, all in one transaction. */
	if (store_list_tx(st, "BEGIN IMMEDIATE") < 0) {
		fprintf(stderr, "moatctl: database busy\n");
		return 1;
	}
	if (store_list_add(st, &li, &error) < 0)
		goto fail;
	for (i = 1; i < argc; i += 2) {
		for (k = 0; strcmp(argv[i], add_opts[k].opt) != 0; k++)
			;
		if (store_list_set(st, li.address, add_opts[k].key,
		    argv[i + 1], &error) < 0)
			goto fail;
	}
	if (store_list_tx(st, "COMMIT") < 0) {
		error = "commit failed";
		goto fail;
	}
	printf("list %s added\n", li.address);
	return 0;
fail:
	fprintf(stderr, "moatctl: %s: %s\n", li.address, error);
	(void)store_list_tx(st, "ROLLBACK");
	return 1;
}

static int
cmd_set(struct store *st, int argc, char **argv)
{
	const char *error = NULL;
	char key[32], list[LIST_ADDR_MAX + 1];
	int i, rc = 0;

	if (argc < 2)
		return usage();
	moat_strlcpy(list, argv[0], sizeof(list));
	ascii_lower(list);
	/* KEY=VALUE, or KEY VALUE as two arguments. */
	for (i = 1; i < argc; i++) {
		const char *eq = strchr(argv[i], '='), *value;
		size_t kl, j;

		if (eq != NULL) {
			kl = (size_t)(eq - argv[i]);
			value = eq + 1;
		} else if (i + 1 < argc) {
			kl = strlen(argv[i]);
			value = argv[++i];
		} else {
			return usage();
		}
		if (kl == 0 || kl >= sizeof(key))
			return usage();
		memcpy(key, eq != NULL ? argv[i] : argv[i - 1], kl);
		key[kl] = '\0';
		for (j = 0; j < kl; j++)
			if (key[j] == '-')
				key[j] = '_';
		if (store_list_set(st, list, key, value, &error) < 0) {
			fprintf(stderr, "moatctl: %s: %s\n", list, error);
			rc = 1;
			continue;
		}
		printf("%s: %s = %s\n", list, key, value);
	}
	return rc;
}

/* member set LIST ADDR mode=each|digest (or "mode digest"). */
static int
cmd_member_set(struct store *st, const struct config *cfg, int argc,
    char **argv)
{
	char list[LIST_ADDR_MAX + 1], addr[LIST_ADDR_MAX + 1];
	const char *mode, *error = NULL;

	if (argc == 3 && strncmp(argv[2], "mode=", 5) == 0)
		mode = argv[2] + 5;
	else if (argc == 4 && strcmp(argv[2], "mode") == 0)
		mode = argv[3];
	else
		return usage();
	moat_strlcpy(list, argv[0], sizeof(list));
	ascii_lower(list);
	moat_strlcpy(addr, argv[1], sizeof(addr));
	ascii_lower(addr);
	/* What waits goes out first, to the digest members so far. */
	if (list_digest_flush(st, cfg, list) < 0) {
		fprintf(stderr, "moatctl: %s: the waiting digest could not be "
		    "sent first; the mode is unchanged\n", list);
		return 1;
	}
	if (store_list_member_mode(st, list, addr, mode, &error) < 0) {
		fprintf(stderr, "moatctl: %s %s: %s\n", list, addr, error);
		return 1;
	}
	printf("%s: %s mode = %s\n", list, addr, mode);
	return 0;
}

/* digest LIST: send what waits now. */
static int
cmd_digest(struct store *st, const struct config *cfg, const char *address)
{
	struct list_info li;
	const char *error = NULL;
	size_t posts = 0;

	if (store_list_get(st, address, &li, &error) < 0) {
		fprintf(stderr, "moatctl: %s: %s\n", address, error);
		return 1;
	}
	if (list_digest_send(st, cfg, &li, &posts) < 0) {
		fprintf(stderr, "moatctl: %s: the digest could not be sent "
		    "(see the log)\n", li.address);
		return 1;
	}
	if (posts == 0)
		printf("%s: no posts waiting for the digest\n", li.address);
	else
		printf("%s: digest sent with %zu post%s\n", li.address, posts,
		    posts == 1 ? "" : "s");
	return 0;
}

static int
cmd_member(struct store *st, const struct config *cfg, int argc,
    char **argv)
{
	const char *verb, *error = NULL;
	char list[LIST_ADDR_MAX + 1], addr[LIST_ADDR_MAX + 1];
	int i, rc = 0;

	if (argc < 3)
		return usage();
	verb = argv[0];
	if (strcmp(verb, "set") == 0)
		return cmd_member_set(st, cfg, argc - 1, argv + 1);
	if (strcmp(verb, "add") != 0 && strcmp(verb, "del") != 0 &&
	    strcmp(verb, "enable") != 0 && strcmp(verb, "disable") != 0)
		return usage();
	moat_strlcpy(list, argv[1], sizeof(list));
	ascii_lower(list);
	for (i = 2; i < argc; i++) {
		int r;
		char state[16];

		moat_strlcpy(addr, argv[i], sizeof(addr));
		ascii_lower(addr);
		if (strcmp(verb, "del") == 0) {
			r = store_list_member_del(st, list, addr, &error);
		} else if (strcmp(verb, "add") == 0) {
			r = store_list_member_put(st, list, addr, "active",
			    NULL, &error);
		} else {
			/* enable/disable: only an existing member. */
			r = store_list_member_state(st, list, addr, state,
			    NULL, 0);
			if (r == 0 && state[0] == '\0') {
				error = "no such member";
				r = -1;
			} else if (r < 0) {
				error = "database error";
			} else {
				r = store_list_member_put(st, list, addr,
				    strcmp(verb, "enable") == 0 ? "active" :
				    "disabled", NULL, &error);
			}
		}
		if (r < 0) {
			fprintf(stderr, "moatctl: %s %s: %s\n", list, addr,
			    error);
			rc = 1;
			continue;
		}
		printf("%s: %s %s\n", list, addr, strcmp(verb, "add") == 0 ?
		    "added" : strcmp(verb, "del") == 0 ? "removed" :
		    strcmp(verb, "enable") == 0 ? "enabled" : "disabled");
	}
	return rc;
}

int
moatctl_list(const struct config *cfg, int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "show", *error = NULL;
	struct store *st;
	unsigned n = 0;
	int rc = 0;

	if (strcmp(cmd, "show") != 0 && strcmp(cmd, "add") != 0 &&
	    strcmp(cmd, "set") != 0 && strcmp(cmd, "del") != 0 &&
	    strcmp(cmd, "member") != 0 && strcmp(cmd, "tokens") != 0 &&
	    strcmp(cmd, "confirm") != 0 && strcmp(cmd, "digest") != 0)
		return usage();
	if (((strcmp(cmd, "del") == 0 || strcmp(cmd, "tokens") == 0 ||
	    strcmp(cmd, "confirm") == 0 || strcmp(cmd, "digest") == 0) &&
	    argc != 3) ||
	    (strcmp(cmd, "show") == 0 && argc > 3))
		return usage();
	if (store_open(cfg->data_dir, &st, &error) < 0) {
		fprintf(stderr, "moatctl: %s\n", error);
		return 1;
	}
	if (strcmp(cmd, "show") == 0 && argc == 3) {
		rc = show_one(st, argv[2]);
	} else if (strcmp(cmd, "show") == 0) {
		printf("%-40s %-10s %13s %s\n", "list", "post", "active/all",
		    "name");
		if (store_list_all(st, all_row, &n) < 0) {
			fprintf(stderr, "moatctl: database error\n");
			rc = 1;
		} else if (n == 0) {
			printf("(no lists)\n");
		}
	} else if (strcmp(cmd, "add") == 0) {
		rc = cmd_add(st, argc - 2, argv + 2);
	} else if (strcmp(cmd, "set") == 0) {
		rc = cmd_set(st, argc - 2, argv + 2);
	} else if (strcmp(cmd, "del") == 0) {
		if (store_list_del(st, argv[2], &error) < 0) {
			fprintf(stderr, "moatctl: %s: %s\n", argv[2], error);
			rc = 1;
		} else {
			printf("list %s deleted\n", argv[2]);
		}
	} else if (strcmp(cmd, "member") == 0) {
		rc = cmd_member(st, cfg, argc - 2, argv + 2);
	} else if (strcmp(cmd, "digest") == 0) {
		char list[LIST_ADDR_MAX + 1];

		moat_strlcpy(list, argv[2], sizeof(list));
		ascii_lower(list);
		rc = cmd_digest(st, cfg, list);
	} else if (strcmp(cmd, "tokens") == 0) {
		if (store_list_tokens(st, argv[2], token_row, &n) < 0) {
			fprintf(stderr, "moatctl: database error\n");
			rc = 1;
		} else if (n == 0) {
			printf("(no pending confirmations)\n");
		}
	} else {
		int r = list_request_confirm(st, cfg, NULL, argv[2], "moatctl");

		if (r < 0) {
			fprintf(stderr, "moatctl: confirmation failed\n");
			rc = 1;
		} else if (r == 0) {
			fprintf(stderr, "moatctl: unknown or expired token\n");
			rc = 1;
		} else {
			printf("confirmed\n");
		}
	}
	store_close(&st);
	return rc;
}
