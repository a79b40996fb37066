"""Coverage feedback from QEMU's trace events: what each example reached
(`credit`), the inputs worth keeping (`corpus`) and where generation goes next
(`guide`)."""
