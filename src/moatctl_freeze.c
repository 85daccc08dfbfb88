/* moatctl_freeze: freeze and unfreeze accounts by hand. */
#include "moatctl_freeze.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dynscreen.h"
#include "moatctl_ban.h"
#include "queue.h"
#include "store.h"
#include "store_security.h"

#define FROZEN_BY_ADMIN	"frozen by the administrator"

static void
print_frozen(void *ctx, const char *const *cols, int ncols)
{
	int i;

	(void)ctx;
	for (i = 0; i < ncols; i++)
		printf("%s%c", cols[i], i + 1 < ncols ? '\t' : '\n');
}

int
moatctl_account_frozen_list(struct store *st)
{
	if (store_frozen_list(st, print_frozen, NULL) < 0) {
		fprintf(stderr, "moatctl: account list: database error\n");
		return 1;
	}
	return 0;
}

int
moatctl_account_freeze(const struct config *cfg, struct store *st, int argc,
    char **argv)
{
	char token[STORE_TOKEN_LEN + 1], flag[64];
	const char *reason = argc > 1 ? argv[1] : FROZEN_BY_ADMIN;
	const char *error = NULL;
	struct dynscreen *d;
	bool was;

	if (store_account_freeze(st, argv[0], reason, time(NULL), token, &was,
	    &error) < 0) {
		fprintf(stderr, "moatctl: account freeze: %s\n", error);
		return 1;
	}
	/* Running workers refuse its mail at once. */
	if ((d = moatctl_screen_map(cfg)) != NULL) {
		snprintf(flag, sizeof(flag), "frozen: %.50s", reason);
		if (dyn_acct_block_until(d, argv[0], DYN_BAN_FOREVER, flag,
		    time(NULL)) < 0)
			fprintf(stderr, "moatctl: warning: the screening map "
			    "is full; workers see the freeze at the next "
			    "login\n");
		dyn_close(&d);
	}
	printf("%s %s\n", argv[0], was ? "was already frozen" : "frozen");
	if (!was)
		printf("held %d queued message(s)\n",
		    queue_hold_auth(cfg->data_dir, argv[0], true));
	return 0;
}

int
moatctl_account_unfreeze(const struct config *cfg, struct store *st,
    int argc, char **argv)
{
	const char *error = NULL;
	struct dynscreen *d;
	bool release = argc > 1 && strcmp(argv[1], "--release") == 0;
	int n;

	if (argc > 1 && !release) {
		fprintf(stderr, "moatctl: account unfreeze: unknown option "
		    "%s\n", argv[1]);
		return 2;
	}
	if (store_account_unfreeze(st, argv[0], &error) < 0) {
		fprintf(stderr, "moatctl: account unfreeze: %s: %s\n", argv[0],
		    error);
		return 1;
	}
	if ((d = moatctl_screen_map(cfg)) != NULL) {
		(void)dyn_acct_unblock(d, argv[0], time(NULL));
		dyn_close(&d);
	}
	printf("%s unfrozen\n", argv[0]);
	if (release) {
		if ((n = queue_hold_auth(cfg->data_dir, argv[0], false)) < 0) {
			fprintf(stderr, "moatctl: account unfreeze: cannot "
			    "release the held queue\n");
			return 1;
		}
		printf("released %d held message%s\n", n, n == 1 ? "" : "s");
	}
	return 0;
}
