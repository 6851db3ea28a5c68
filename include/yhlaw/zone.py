"""The district's time zone: the one place it is named.

Sources write local times without a zone, the schedules run on local days, and the marts count
local months; all of them mean this zone.
"""

from zoneinfo import ZoneInfo

DISTRICT_TZ = "Asia/Shanghai"
DISTRICT_ZONE = ZoneInfo(DISTRICT_TZ)
