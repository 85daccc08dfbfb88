/* tar: a streaming reader of tar archives (POSIX ustar, GNU tar and pax
 * extended headers) for the attachment scan. The archive is pushed in as
 * it arrives (a MIME part, or a gzip member being inflated) and each
 * file's content is handed out as it goes by, so only one 512-octet
 * header and a short name are held. A size written in a header only
 * says how many of the following octets belong to the file: an archive
 * that ends sooner ends the file there, nothing is read past the input.
 * Where tar and Python disagree the reader leans to showing more: a
 * block that is not a valid header is skipped and the next one tried
 * (GNU tar resynchronises so), end-of-archive blocks are skipped too
 * (tar -i), and a header of an unknown type is a file (GNU tar extracts
 * it as one). GNU long names ('L') and pax 'path' and 'size' records
 * ('x') apply to the next header, pax 'path' in a global header ('g') to
 * all that follow; a pax path wins over an 'L' name, GNU.sparse.name
 * over both. GNU sparse files are read as their stored (condensed)
 * data: old GNU 'S' extension blocks and the 1.0 format's map are
 * skipped; other extensions are skipped. */
#ifndef MOAT_TAR_H
#define MOAT_TAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TAR_BLOCK	512
#define TAR_NAME_MAX	256	/* name kept, NUL included (longer: cut) */
#define TAR_RESYNC_BLOCKS 16	/* tar_is_tar: blocks looked at for a header */

struct tar_entry {
	char		 name[TAR_NAME_MAX];	/* as written, not cleaned */
	uint64_t	 size;		/* declared: never trusted */
	char		 type;		/* the typeflag octet */
};

/* The callbacks return 0 to go on, -1 to stop the walk. begin: a file's
 * content follows (data, zero or more times), then end, whole false
 * when the archive ended inside it. */
struct tar_ops {
	int	(*begin)(const struct tar_entry *e, void *ctx);
	int	(*data)(const uint8_t *p, size_t len, void *ctx);
	int	(*end)(bool whole, void *ctx);
};

struct tar_reader;

/* True when one of the first TAR_RESYNC_BLOCKS whole blocks of p is a
 * valid tar header (ustar, GNU or V7: the checksum is what is checked). */
bool tar_is_tar(const uint8_t *p, size_t len);
struct tar_reader *tar_new(void);
void tar_free(struct tar_reader **tp);
/* Read the next len octets. 0, or -1 when a callback stopped the walk
 * (further input is then ignored). */
int tar_feed(struct tar_reader *t, const uint8_t *p, size_t len,
    const struct tar_ops *ops, void *ctx);
/* The input is over: a file cut short gets its end(false). Returns 0,
 * 1 when the archive was cut inside a header or a file. */
int tar_finish(struct tar_reader *t, const struct tar_ops *ops, void *ctx);

#endif
