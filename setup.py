from pathlib import Path

from setuptools import find_packages, setup

requirements = [line.strip() for line in Path(__file__).with_name("requirements.txt").read_text().splitlines()
                if line.strip() and not line.startswith("#")]

setup(
    name="annt",
    version="0.1.0",
    description="Adversarial Neural Network Toolkit: robustness of DoReFa-quantized classifiers",
    long_description=Path(__file__).with_name("README.md").read_text(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["annt", "annt.*"]),
    python_requires=">=3.11,<3.12",
    install_requires=requirements,
    package_data={"annt": ["reference/*.csv", "reference/*.json"]},
    extras_require={"ray": ["ray==2.60.0"],
                    "test": ["pytest==9.2.0", "nbclient==0.11.0", "nbformat==5.11.1", "ipykernel==7.4.0",
                             "ray==2.60.0"]},
    entry_points={"console_scripts": ["annt=annt.cli:main"]},
)
