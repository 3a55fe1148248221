from __future__ import annotations

import unicodedata
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from dondoc.rules.deadlines import (
    VN_TZ,
    Deadline,
    DeadlineError,
    format_date_line,
    format_date_vi,
    format_deadline_vi,
    parse_deadline,
    parse_local_date,
    parse_local_datetime,
    weekday_vi,
)

FRI = date(2015, 11, 20)
TUE = date(2015, 11, 24)

WHOLE_DAY = [
    ("đến hết ngày 20/11/2015", FRI),
    ("từ nay đến hết ngày 20/11/2015", FRI),
    ("từ nay đến hết ngày thứ ba 24/11/2015", TUE),
    ("Từ nay đến hết ngày thứ Ba 24/11/2015", TUE),
    ("ĐẾN HẾT NGÀY 20/11/2015", FRI),
    ("  đến   hết  ngày 20/11/2015. ", FRI),
    ("chậm nhất ngày 20/11/2015", FRI),
    ("chậm nhất là ngày 20/11/2015", FRI),
    ("20/11/2015", FRI),
    ("2015-11-20", FRI),
    ("4/11/2015", date(2015, 11, 4)),
    ("thứ ba 24/11/2015", TUE),
    ("thứ Ba, ngày 24/11/2015", TUE),
    ("thứ 3 24/11/2015", TUE),
    ("T3 24/11/2015", TUE),
    ("ngày thứ sáu 20/11/2015", FRI),
    ("thứ Bảy, ngày 21/11/2015", date(2015, 11, 21)),
    ("thứ bẩy 21/11/2015", date(2015, 11, 21)),
    ("Chủ nhật 22/11/2015", date(2015, 11, 22)),
    ("CN 22/11/2015", date(2015, 11, 22)),
    ("thứ Hai, ngày 23/11/2015", date(2015, 11, 23)),
    (unicodedata.normalize("NFD", "đến hết ngày thứ ba 24/11/2015"), TUE),
]

TIME_OF_DAY = [
    ("trước 16 giờ 00 ngày 20/11/2015", time(16, 0)),
    ("trước 16 giờ 30 phút ngày 20/11/2015", time(16, 30)),
    ("16 giờ ngày 20/11/2015", time(16, 0)),
    ("16h00 ngày 20/11/2015", time(16, 0)),
    ("16h ngày 20/11/2015", time(16, 0)),
    ("trước 9h30 ngày 20/11/2015", time(9, 30)),
    ("16:00 20/11/2015", time(16, 0)),
    ("20/11/2015 16:00", time(16, 0)),
    ("chậm nhất 16 giờ ngày 20/11/2015", time(16, 0)),
    ("trước 16 giờ 00, thứ Sáu, ngày 20/11/2015", time(16, 0)),
]

NOT_DEADLINES = [
    ("", "expected a deadline like 'đến hết ngày 20/11/2015'"),
    ("cuối năm 2015", "expected a deadline like"),
    ("theo tiến độ", "expected a deadline like"),
    ("đến ngày 20/11/2015", "expected a deadline like"),
    ("đến hết 16:00 ngày 20/11/2015", "expected a deadline like"),
    ("16:00 20/11/2015 17:00", "expected a deadline like"),
    ("thứ tám 20/11/2015", "expected a deadline like"),
    ("20/11/15", "expected a date like 24/11/2015 or 2015-11-24"),
    ("20.11.2015", "expected a date like 24/11/2015"),
    ("31/11/2015", "there is no such day as 31/11/2015"),
    ("29/02/2015", "there is no such day as 29/02/2015"),
    ("trước 24 giờ ngày 20/11/2015", "there is no such time of day as 24 giờ"),
    ("16:60 20/11/2015", "there is no such time of day as 16:60"),
    ("thứ Tư, ngày 24/11/2015", "24/11/2015 is a Tuesday (thứ Ba), not thứ Tư"),
    ("đến hết ngày thứ hai 24/11/2015", "is a Tuesday (thứ Ba), not thứ Hai"),
    ("T7 20/11/2015", "20/11/2015 is a Friday (thứ Sáu), not thứ Bảy"),
    ("Chủ nhật 21/11/2015", "21/11/2015 is a Saturday (thứ Bảy), not Chủ nhật"),
]


@pytest.mark.parametrize(("text", "day"), WHOLE_DAY)
def test_it_reads_a_day_as_until_the_end_of_that_day(text: str, day: date) -> None:
    deadline = parse_deadline(text)
    assert (deadline.day, deadline.time, deadline.warning) == (day, None, None)


@pytest.mark.parametrize(("text", "clock"), TIME_OF_DAY)
def test_it_reads_a_time_of_day(text: str, clock: time) -> None:
    deadline = parse_deadline(text)
    assert (deadline.day, deadline.time, deadline.warning) == (FRI, clock, None)


@pytest.mark.parametrize(("text", "message"), NOT_DEADLINES)
def test_it_rejects_what_it_cannot_read_exactly(text: str, message: str) -> None:
    with pytest.raises(DeadlineError) as raised:
        parse_deadline(text)
    assert message in str(raised.value)


@pytest.mark.parametrize("text", ["trước ngày 20/11/2015", "trước thứ Sáu, ngày 20/11/2015"])
def test_it_reads_before_a_day_literally_and_warns(text: str) -> None:
    deadline = parse_deadline(text)
    assert (deadline.day, deadline.time) == (date(2015, 11, 19), None)
    assert deadline.warning is not None
    assert "read literally" in deadline.warning
    assert "đến hết ngày 20/11/2015" in deadline.warning


def test_it_keeps_the_text_as_written_after_normalising() -> None:
    written = unicodedata.normalize("NFD", "  từ nay đến hết ngày   thứ Ba, 24/11/2015 ")
    assert parse_deadline(written).text == "từ nay đến hết ngày thứ Ba, 24/11/2015"


@pytest.mark.parametrize(
    ("deadline", "ends_at"),
    [
        # End of Fri 20/11 local is 17:00 UTC the same day (UTC+7, no DST).
        (Deadline(FRI, None, "20/11/2015"), datetime(2015, 11, 20, 17, 0, tzinfo=UTC)),
        (Deadline(TUE, None, "24/11/2015"), datetime(2015, 11, 24, 17, 0, tzinfo=UTC)),
        (Deadline(FRI, time(16, 0), "16:00"), datetime(2015, 11, 20, 9, 0, tzinfo=UTC)),
        (Deadline(FRI, time(3, 0), "3:00"), datetime(2015, 11, 19, 20, 0, tzinfo=UTC)),
        (Deadline(date(2015, 12, 31), None, "x"), datetime(2015, 12, 31, 17, 0, tzinfo=UTC)),
    ],
)
def test_ends_at_is_the_first_late_instant_in_utc(deadline: Deadline, ends_at: datetime) -> None:
    assert deadline.ends_at() == ends_at
    assert deadline.ends_at().utcoffset() == timedelta(0)


def test_ends_at_honours_another_zone() -> None:
    tokyo = parse_deadline("20/11/2015").ends_at(tz=ZoneInfo("Asia/Tokyo"))
    assert tokyo == datetime(2015, 11, 20, 15, 0, tzinfo=UTC)


def test_a_submission_at_23_59_59_local_is_before_the_end() -> None:
    ends_at = parse_deadline("đến hết ngày 20/11/2015").ends_at()
    last_second = datetime(2015, 11, 20, 23, 59, 59, tzinfo=VN_TZ)
    assert last_second < ends_at <= datetime(2015, 11, 21, 0, 0, tzinfo=VN_TZ)


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("24/11/2015", date(2015, 11, 24)),
        ("4/11/2015", date(2015, 11, 4)),
        ("04/01/2016", date(2016, 1, 4)),
        ("2015-11-24", date(2015, 11, 24)),
        (" 2015-1-4 ", date(2015, 1, 4)),
        ("29/02/2016", date(2016, 2, 29)),
    ],
)
def test_it_parses_local_dates(text: str, day: date) -> None:
    assert parse_local_date(text) == day


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("31/11/2015", "there is no such day as 31/11/2015"),
        ("2015-02-29", "there is no such day"),
        ("24/11/15", "expected a date like 24/11/2015 or 2015-11-24"),
        ("24-11-2015", "expected a date like"),
        ("24/11/2015 16:00", "expected a date like"),
        ("ngày 24/11/2015", "expected a date like"),
        ("", "expected a date like"),
    ],
)
def test_it_rejects_bad_local_dates(text: str, message: str) -> None:
    with pytest.raises(DeadlineError) as raised:
        parse_local_date(text)
    assert message in str(raised.value)


NINE_LOCAL = datetime(2015, 11, 25, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2015-11-25 09:00", NINE_LOCAL),
        ("25/11/2015 09:00", NINE_LOCAL),
        ("25/11/2015 9h00", NINE_LOCAL),
        ("25/11/2015 9 giờ", NINE_LOCAL),
        ("25/11/2015 lúc 9 giờ 00", NINE_LOCAL),
        ("09:00 25/11/2015", NINE_LOCAL),
        ("2015-11-25T09:00", NINE_LOCAL),
        ("2015-11-25T09:00:00", NINE_LOCAL),
        ("25/11/2015", datetime(2015, 11, 24, 17, 0, tzinfo=UTC)),
        ("2015-11-25", datetime(2015, 11, 24, 17, 0, tzinfo=UTC)),
        ("2015-11-25T09:00+00:00", datetime(2015, 11, 25, 9, 0, tzinfo=UTC)),
        ("2015-11-25T02:00:00Z", NINE_LOCAL),
        ("2015-11-25T10:00+08:00", NINE_LOCAL),
        ("27/11/2015 17:00", datetime(2015, 11, 27, 10, 0, tzinfo=UTC)),
    ],
)
def test_it_parses_local_datetimes_to_aware_utc(text: str, moment: datetime) -> None:
    parsed = parse_local_datetime(text)
    assert parsed == moment
    assert parsed.utcoffset() == timedelta(0)


def test_local_datetimes_use_the_zone_given() -> None:
    parsed = parse_local_datetime("25/11/2015 09:00", tz=ZoneInfo("Europe/Paris"))
    assert parsed == datetime(2015, 11, 25, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("25/11/2015 24:00", "there is no such time of day"),
        ("31/11/2015 09:00", "there is no such day"),
        ("2015-11-31 09:00", "expected a date and time like 25/11/2015 09:00"),
        ("25/11/2015 09:00 10:00", "expected a date and time"),
        ("tomorrow", "expected a date and time"),
    ],
)
def test_it_rejects_bad_local_datetimes(text: str, message: str) -> None:
    with pytest.raises(DeadlineError) as raised:
        parse_local_datetime(text)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2015, 11, 23), "thứ Hai"),
        (date(2015, 11, 24), "thứ Ba"),
        (date(2015, 11, 25), "thứ Tư"),
        (date(2015, 11, 26), "thứ Năm"),
        (date(2015, 11, 27), "thứ Sáu"),
        (date(2015, 11, 28), "thứ Bảy"),
        (date(2015, 11, 29), "Chủ nhật"),
    ],
)
def test_weekday_vi_names_each_day(day: date, name: str) -> None:
    assert weekday_vi(day) == name


@pytest.mark.parametrize(
    ("ends_at", "shown"),
    [
        (datetime(2015, 11, 24, 17, 0, tzinfo=UTC), "23:59 thứ Ba, ngày 24/11/2015"),
        (datetime(2015, 11, 20, 9, 0, tzinfo=UTC), "16:00 thứ Sáu, ngày 20/11/2015"),
        (datetime(2015, 11, 25, 0, 0, tzinfo=VN_TZ), "23:59 thứ Ba, ngày 24/11/2015"),
        (datetime(2016, 1, 1, 0, 0, tzinfo=VN_TZ), "23:59 thứ Năm, ngày 31/12/2015"),
        (datetime(2015, 11, 20, 3, 5, tzinfo=UTC), "10:05 thứ Sáu, ngày 20/11/2015"),
    ],
)
def test_format_deadline_vi_shows_the_last_minute_of_a_whole_day(
    ends_at: datetime, shown: str
) -> None:
    assert format_deadline_vi(ends_at) == shown


def test_format_deadline_vi_round_trips_parse_deadline() -> None:
    ends_at = parse_deadline("từ nay đến hết ngày thứ ba 24/11/2015").ends_at()
    assert format_deadline_vi(ends_at) == "23:59 thứ Ba, ngày 24/11/2015"


def test_format_deadline_vi_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="aware"):
        format_deadline_vi(datetime(2015, 11, 24, 17, 0))  # noqa: DTZ001


@pytest.mark.parametrize(
    ("day", "line"),
    [
        (date(2015, 11, 2), "Quận 1, ngày 02 tháng 11 năm 2015"),
        (date(2015, 11, 24), "Quận 1, ngày 24 tháng 11 năm 2015"),
        (date(2016, 1, 5), "Quận 1, ngày 05 tháng 01 năm 2016"),
        (date(2016, 2, 14), "Quận 1, ngày 14 tháng 02 năm 2016"),
        (date(2016, 3, 5), "Quận 1, ngày 05 tháng 3 năm 2016"),
        (date(2016, 10, 10), "Quận 1, ngày 10 tháng 10 năm 2016"),
    ],
)
def test_format_date_line_pads_days_below_10_and_months_1_and_2(day: date, line: str) -> None:
    assert format_date_line(" Quận 1 ", day) == line


@pytest.mark.parametrize(
    ("day", "text"),
    [(date(2015, 11, 24), "24/11/2015"), (date(2015, 3, 4), "04/03/2015")],
)
def test_format_date_vi_pads_day_and_month(day: date, text: str) -> None:
    assert format_date_vi(day) == text
    assert parse_local_date(text) == day
