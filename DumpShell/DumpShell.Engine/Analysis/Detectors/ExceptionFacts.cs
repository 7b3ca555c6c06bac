using DumpShell.Model;
using DumpShell.Model.Names;

namespace DumpShell.Analysis.Detectors;

/// <summary>Exception codes and tests several detectors share (the table of ../shared/docs/patterns.md).</summary>
internal static class ExceptionFacts
{
    public const uint Breakpoint = 0x80000003;
    public const uint Wow64Breakpoint = 0x4000001F;
    public const uint IntDivideByZero = 0xC0000094;
    public const uint IntOverflow = 0xC0000095;
    public const uint FloatDivideByZero = 0xC000008E;
    public const uint StackOverflow = 0xC00000FD;
    public const uint IllegalInstruction = 0xC000001D;
    public const uint PrivilegedInstruction = 0xC0000096;

    /// <summary>Thread naming and OutputDebugString: harmless, never reported.</summary>
    public static bool IsHarmless(uint code) => code is 0x406D1388 or 0x40010006 or 0x4001000A;

    public static bool IsBreakpoint(uint code) => code is Breakpoint or Wow64Breakpoint;

    /// <summary>The stored exception when the dump is a Windows dump and the code is not a harmless one.</summary>
    public static DumpException? Stored(Dump dump) =>
        dump.Platform == "Windows" && dump.Exception is { } e && !IsHarmless(e.Code) ? e : null;

    /// <summary>An access violation (code, two parameters): its kind parameter and target address.</summary>
    public static bool IsAccessViolation(DumpException e, out ulong kind, out ulong target)
    {
        kind = target = 0;
        if (e.Code != ExceptionCodes.AccessViolation || e.Parameters.Length < 2) return false;
        kind = e.Parameters[0];
        target = e.Parameters[1];
        return true;
    }

    /// <summary>"0xC0000005 EXCEPTION_ACCESS_VIOLATION".</summary>
    public static string CodeText(DumpException e) => e.CodeName is { } n ? $"0x{e.Code:X8} {n}" : $"0x{e.Code:X8}";

    /// <summary>The pointer-sized value at the exception context's stack pointer: the return address after a call.</summary>
    public static ulong? ValueAtStackPointer(Dump dump, DumpException e) =>
        e.StackPointer is { } sp && dump.Memory.TryReadPointer(sp, dump.PointerSize, out ulong v) ? v : null;
}

/// <summary>Text helpers for evidence.</summary>
internal static class Text
{
    /// <summary>One line: newlines become " / ", and text past <paramref name="max"/> characters ends in "...".</summary>
    public static string Clip(string text, int max)
    {
        string line = string.Join(" / ", text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        return line.Length <= max ? line : line[..(max - 3)] + "...";
    }
}
