namespace DumpShell.Machine;

/// <summary>The processor a dump's process ran on.</summary>
public enum CpuArchitecture
{
    Unknown,
    X86,
    X64,
    Arm,
    Arm64,
}

public static class CpuArchitectureExtensions
{
    public static int PointerSize(this CpuArchitecture arch) => arch is CpuArchitecture.X86 or CpuArchitecture.Arm ? 4 : 8;
}
