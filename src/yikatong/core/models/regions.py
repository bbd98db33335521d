from django.db import models

from yikatong.core import regions as rules


class Region(models.Model):
    """An administrative division, keyed by its 12-digit statistical code."""

    class Level(models.IntegerChoices):
        PROVINCE = rules.PROVINCE, "省/直辖市"
        PREFECTURE = rules.PREFECTURE, "市/州"
        COUNTY = rules.COUNTY, "县/区"
        TOWNSHIP = rules.TOWNSHIP, "乡镇/街道"
        VILLAGE = rules.VILLAGE, "村/社区"

    code = models.CharField("区划代码", max_length=12, primary_key=True)
    name = models.CharField("名称", max_length=100)
    level = models.PositiveSmallIntegerField("级别", choices=Level.choices)
    parent = models.ForeignKey(
        "self", verbose_name="上级", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    full_name = models.CharField("全称", max_length=400, blank=True)
    active = models.BooleanField("有效", default=True)

    class Meta:
        verbose_name = "行政区划"
        verbose_name_plural = "行政区划"
        ordering = ["code"]
        indexes = [models.Index(fields=["parent", "code"])]

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）"

    @property
    def subtree_range(self) -> tuple[str, str]:
        return rules.subtree_range(self.code)

    def contains(self, code: str) -> bool:
        return rules.is_within(code, self.code)
