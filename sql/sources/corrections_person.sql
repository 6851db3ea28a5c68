-- 浙江智慧矫正系统: 在矫人员 updated in [:since, :until), from the system's own MariaDB schema
-- (jz_jzry = 矫正人员信息). MySQL dialect (transport.dialect: mysql). gxsj is a DATETIME in
-- local time without zone. A row without an update time (gxsj NULL: not enforced in every
-- deployment) cannot be placed in a window; it is read by every window, so it is quarantined
-- (missing_required_field) instead of never being seen, until the system fills gxsj. The same
-- for a zero date ('0000-00-00 00:00:00', which MySQL stores where sql_mode allows it): it sorts
-- before every real window, so it is read by every window too and quarantined.
SELECT p.jzrybh, p.xm, p.zjhm, p.lxdh, p.jzlb, p.zm, p.jdjg, p.jzqx, p.rjrq, p.xzqh, p.sfsmc, p.gljb,
       p.sfdzdw, p.jzapp, p.zjkhrq, p.jjrq, p.jjlx, p.sfzf, p.zfzrq, p.sfxj, p.xjrq, p.gxsj
FROM jz_jzry p
WHERE (p.gxsj >= :since AND p.gxsj < :until) OR p.gxsj IS NULL OR p.gxsj < '1000-01-01'
ORDER BY p.gxsj IS NULL, p.gxsj, p.jzrybh
