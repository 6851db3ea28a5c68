-- 人民调解信息系统: cases updated in [:since, :until) with their parties, from the system's
-- own schema (tj_ajxx = 调解案件信息, tj_dsr = 当事人 with 当事人地位 dsrdw). Times there are local,
-- without zone. xfjbh: the 信访件编号 of a 信访转办 case.
-- A case without an update time (gxsj NULL: the column is not enforced in every deployment)
-- cannot be placed in a window; it is read by every window, so it is quarantined
-- (missing_required_field) instead of never being seen, until the system fills gxsj.
SELECT a.ajbh, a.tjwyh_lx, a.tjwyh_mc, a.jflx, a.ajly, a.sfjfm, a.xzqh, a.slrq, a.jarq,
       a.tjjg, a.xyje, a.sfsfqr, a.wpbh, a.xfjbh, a.gxsj,
       (SELECT json_agg(json_build_object('role', d.dsrdw, 'type', d.dsrlx, 'name', d.xm, 'idNo', d.zjhm,
                                          'phone', d.lxdh)
                        ORDER BY d.xh)
        FROM tj_dsr d WHERE d.ajbh = a.ajbh) AS parties
FROM tj_ajxx a
WHERE (a.gxsj >= :since AND a.gxsj < :until) OR a.gxsj IS NULL
ORDER BY a.gxsj NULLS LAST, a.ajbh
