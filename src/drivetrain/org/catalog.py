"""The demo OEM's real catalogue: 长安福特 and the series it sells."""

from __future__ import annotations

from sqlalchemy.orm import Session

from drivetrain.org.models import Brand, CarModel, Oem, Series
from drivetrain.org.repository import CatalogRepository

OEM_NAME = "长安福特"
BRAND_NAME = "福特"
BRAND_WMI = "LVS"  # Changan Ford's world manufacturer identifier

# (name, English name, powertrain, model names)
SERIES: list[tuple[str, str, str, list[str]]] = [
    ("福克斯", "Focus", "ice", ["1.5L 锋潮型", "1.5T ST-Line"]),
    ("福睿斯", "Escort", "ice", ["1.5L 手动舒适型", "1.5L 自动质享型"]),
    ("蒙迪欧", "Mondeo", "hev", ["EcoBoost 245 豪华型", "2.0L HEV 智控时尚型"]),
    ("锐际", "Escape", "phev", ["EcoBoost 245 四驱", "PHEV 插电混动"]),
    ("锐界", "Edge", "ice", ["锐界L 2.0T 七座", "锐界L 1.5T 混动"]),
    ("领界", "Territory", "ice", ["1.5T 自动尊领型", "EV 纯电"]),
    ("领裕", "Equator", "ice", ["1.5T 六座", "2.0T 七座"]),
    ("探险者", "Explorer", "ice", ["2.3T 四驱钛金版", "2.3T 星空限量版"]),
    ("EVOS", "EVOS", "ice", ["2.0T 风之版", "2.0T 光之版"]),
    ("Mustang Mach-E", "Mustang Mach-E", "bev", ["标准续航", "长续航四驱"]),
    ("金牛座", "Taurus", "ice", ["EcoBoost 245 豪华型"]),
    ("翼虎", "Kuga", "ice", ["1.5T 两驱"]),
]


def ensure_catalog(session: Session, *, model_year: int = 2026) -> Brand:
    """Create the OEM, its brand and series if missing; safe to run again."""
    catalog = CatalogRepository(session)
    oem = catalog.oem_named(OEM_NAME)
    if oem is None:
        oem = Oem(name=OEM_NAME)
        session.add(oem)
        session.flush()
    brand = catalog.brand_named(BRAND_NAME)
    if brand is None:
        brand = Brand(oem_id=oem.id, name=BRAND_NAME, vin_wmi=BRAND_WMI)
        session.add(brand)
        session.flush()
    existing = catalog.series_names(brand.id)
    for name, name_en, powertrain, models in SERIES:
        if name in existing:
            continue
        series = Series(brand_id=brand.id, name=name, name_en=name_en, powertrain=powertrain)
        session.add(series)
        session.flush()
        session.add_all(CarModel(series_id=series.id, name=m, model_year=model_year) for m in models)
    session.flush()
    return brand
