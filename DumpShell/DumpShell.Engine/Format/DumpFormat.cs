namespace DumpShell.Format;

/// <summary>The file formats <see cref="Dump.Open"/> reads.</summary>
public enum DumpFormat
{
    /// <summary>A Windows-style minidump ("MDMP": dbghelp, Wine, Breakpad, Crashpad, lldb ...): <see cref="Dump.File"/>.</summary>
    Minidump,
    /// <summary>A Linux ELF core file (the kernel, .NET's createdump): <see cref="Dump.ElfCore"/>.</summary>
    ElfCore,
}
