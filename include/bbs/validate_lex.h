/*
 * validate_lex.h - the text checks several validators share (pure core):
 * a rootfs URL as upstream's Go url.Parse judges it, and the guid pattern
 * of process and task guids.
 *
 * Both are predicates: they add no problem, the caller names the field.
 */
#ifndef BBS_VALIDATE_LEX_H
#define BBS_VALIDATE_LEX_H

/*
 * 1 when upstream accepts `s` as a rootfs: Go's url.Parse succeeds and the
 * scheme is non-empty (reference 5.1 #4). NULL reads as "" (rejected).
 */
int bbs_validate_rootfs_url_ok(const char *s);

/* 1 when `s` matches ^[a-zA-Z0-9_-]+$ (reference 5.1 #14). NULL reads as "". */
int bbs_validate_guid_ok(const char *s);

#endif /* BBS_VALIDATE_LEX_H */
