-- 浙江智慧矫正系统: 违规与奖惩 (jz_wgjc = 社区矫正对象奖惩记录) updated in [:since, :until), from the
-- system's own MariaDB schema; as corrections_person.sql: gxsj is a local DATETIME, and a row
-- without an update time (or a zero date) is read by every window and quarantined.
SELECT w.jcbh, w.jzrybh, w.xm, w.zjhm, w.jclb, w.wglx, w.wgrq, w.jdrq, w.jdjg, w.xzqh, w.sfsmc, w.gxsj
FROM jz_wgjc w
WHERE (w.gxsj >= :since AND w.gxsj < :until) OR w.gxsj IS NULL OR w.gxsj < '1000-01-01'
ORDER BY w.gxsj IS NULL, w.gxsj, w.jcbh
