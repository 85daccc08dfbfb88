/* archive: placeholder, being written. */
#ifndef MOAT_ARCHIVE_H
#define MOAT_ARCHIVE_H
#endif
