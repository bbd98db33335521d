"""yikatong: the subsidy "one-card" platform (惠民惠农财政补贴资金“一卡通”管理平台)."""
