"""The page every generated PDF is drawn on: A4 portrait in millimetres, with one line of footer text on the left and
"Page n of N" on the right. Imported only by the modules that draw (fpdf2 loads on the first document)."""

from __future__ import annotations

from fpdf import FPDF
from fpdf.enums import Align, XPos, YPos

FONT = "Helvetica"


class FooteredPDF(FPDF):
    def __init__(self, footer_text: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self._footer_text = footer_text

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, size=8)
        self.set_text_color(110, 110, 110)
        self.cell(0, 4, self._footer_text, align=Align.L)
        self.cell(0, 4, f"Page {self.page_no()} of {{nb}}", align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(0, 0, 0)
