"""Vietnamese names of the stored vocabularies, for pages, exports and messages."""

from __future__ import annotations

from models.enums import Channel, Sector

CHANNEL_LABELS_VI: dict[str, str] = {
    Channel.PORTAL: "Qua đường dẫn",
    Channel.OFFICE: "Văn phòng nhận (giấy)",
    Channel.EMAIL: "Thư điện tử",
    Channel.ZALO: "Zalo",
    Channel.ROLLUP: "Tổng hợp từ cấp dưới",
}
SECTOR_LABELS_VI: dict[str, str] = {
    Sector.STATE: "Doanh nghiệp nhà nước",
    Sector.NON_STATE: "Doanh nghiệp ngoài nhà nước",
    Sector.FDI: "Doanh nghiệp có vốn đầu tư nước ngoài",
    Sector.PUBLIC_SERVICE: "Đơn vị sự nghiệp công lập",
    Sector.ADMINISTRATIVE: "Cơ quan hành chính",
}
