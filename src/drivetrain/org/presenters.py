"""Shape dealers for the API and the console."""

from __future__ import annotations

from drivetrain.org.models import Dealer
from drivetrain.org.schemas import DealerRead, DealerSummary


def dealer_summary(dealer: Dealer) -> DealerSummary:
    """Needs ``region`` and ``group`` loaded (see DealerRepository)."""
    return DealerSummary(
        code=dealer.code,
        name=dealer.name,
        region=dealer.region.name,
        group=dealer.group.name if dealer.group else None,
        province=dealer.province,
        city=dealer.city,
        district=dealer.district,
    )


def dealer_detail(dealer: Dealer) -> DealerRead:
    return DealerRead(
        **dealer_summary(dealer).model_dump(),
        address=dealer.address,
        adcode=dealer.adcode,
        latitude=dealer.latitude,
        longitude=dealer.longitude,
        sales_phone=dealer.sales_phone,
        service_phone=dealer.service_phone,
        brands=sorted(b.name for b in dealer.brands),
        working_hours=dealer.working_hours,
    )
