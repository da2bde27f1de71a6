"""Every manifest names the processor its numbers were computed on (another CPU can flip a near-tie prediction)."""
import os

from annt.manifest import RunRecord, machine


def test_the_machine_is_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    processor = ("processor\t: {n}\nmodel name\t: AMD EPYC\n"
                 "flags\t\t: fpu sse4_2 avx avx2 fma avx512f avx512vl\n\n")
    cpuinfo.write_text(processor.format(n=0) + processor.format(n=1))
    assert machine(cpuinfo) == {"processor": "AMD EPYC", "cores": os.cpu_count(),
                                "instructions": ["sse4_2", "avx", "avx2", "fma", "avx512f"]}


def test_without_cpuinfo_the_instructions_are_unknown_not_empty(tmp_path):
    described = machine(tmp_path / "absent")
    assert described["instructions"] is None and described["cores"] == os.cpu_count()


def test_every_manifest_carries_the_machine():
    assert RunRecord().manifest({"seed": 3})["machine"] == machine()
